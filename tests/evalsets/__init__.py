"""Tests of the evaluation-set builders."""
