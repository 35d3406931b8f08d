"""Data generators: datagen quickstarts and the seed systems' events."""
