"""Distillation stage (trainers, distillers, teacher training): arrives with issue 5; nothing here yet."""
