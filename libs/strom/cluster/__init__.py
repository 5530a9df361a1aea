"""Building blocks of the Strom services: the endpoint loop and local process control."""
