"""Assortment: a self-hostable product experience manager."""

__version__ = "0.1.0"
