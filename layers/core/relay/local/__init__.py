"""Running Relay without AWS: the embedded local stack (moto + a Meta Graph emulator). Dev-only imports."""
