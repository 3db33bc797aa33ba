"""Kiosk peripherals."""
