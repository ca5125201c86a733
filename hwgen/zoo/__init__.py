"""Model zoo: small Brevitas-quantized reference networks (needs the ``train`` extra)."""
