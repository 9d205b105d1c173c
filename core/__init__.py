"""Stemforge engine: audio in, stems out. Never imports Qt."""

__version__ = "0.1.0"
