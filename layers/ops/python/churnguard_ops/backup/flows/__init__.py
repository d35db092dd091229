"""One module per backup policy flow; each flow is given only the ports it uses (see ``service.FLOWS``)."""
