"""Pure functions of the programme: no I/O, no clock (`now` is passed in)."""
