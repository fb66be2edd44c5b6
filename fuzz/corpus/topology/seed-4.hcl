active_site = "east"
base_port   = 26432
