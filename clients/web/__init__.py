"""The browser touch instrument, installed as the ``robojam.webclient`` package data."""
