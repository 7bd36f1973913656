"""Platform adapters: one module per platform or channel, all implementing ``base.Adapter``."""
