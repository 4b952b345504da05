"""Sparkify warehouse."""
