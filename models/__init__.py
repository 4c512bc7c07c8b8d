"""Shipped robojam models, installed as the ``robojam.models`` package data."""
