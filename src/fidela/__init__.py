"""Fidela: self-hostable multichannel loyalty and retention platform."""
