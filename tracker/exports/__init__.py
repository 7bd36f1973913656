"""The bundle for police, NCRP and court: one reproducible ZIP per case."""
