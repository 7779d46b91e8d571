"""Evolutionary search engine (DEAP, budgets, Ray): arrives with issue 4; nothing here yet."""
