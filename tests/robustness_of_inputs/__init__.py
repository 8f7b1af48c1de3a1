"""Hostile and broken inputs: hypothesis-generated policies and datasets through the command line."""
