"""Stored platform settings (SPECTRA's Setting table). Kept in fleet, the lowest domain, because every
domain above reads them: intensity providers their API keys, inventory sync the AWS keys, reports the
per-client Scope 1 figure."""
