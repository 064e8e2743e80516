"""Separate, versioned consents under the PIPL, given and withdrawn by the person."""
