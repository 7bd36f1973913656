"""Content matching: perceptual and exact hashes of what a re-check reads, per-case hash banks,
lookup that stays fast as banks grow, and exchange of banks in HMA / ThreatExchange formats.

Media never stays: bytes are hashed in memory and dropped; a bank holds hashes and a label.
"""
