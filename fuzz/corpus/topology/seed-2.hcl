active_site = "east"
base_port   = 25432
