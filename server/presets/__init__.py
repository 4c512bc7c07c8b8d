"""Shipped server presets, installed as the ``robojam.presets`` package data."""
