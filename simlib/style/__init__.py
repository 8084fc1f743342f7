"""One look for every number and chart: number formatting, colours, fonts."""
