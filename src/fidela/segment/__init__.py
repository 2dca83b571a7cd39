"""Stored segments: rule definitions, materialised membership and its history."""
