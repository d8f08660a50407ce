"""Hand-written fakes of the ports, as strict as the emulators: one module per port family."""
