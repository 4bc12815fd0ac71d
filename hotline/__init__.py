"""Citizen hotline service."""
