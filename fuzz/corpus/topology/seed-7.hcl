active_site = "east"
sites = {
  east = { region = "us-east", weight = 100 }
  west = { region = "us-west", weight = 50 }
}
