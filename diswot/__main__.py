import sys

from diswot.cli import main

sys.exit(main())
