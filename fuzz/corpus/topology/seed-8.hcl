active_site = "east"
admin_token = "prod-token-from-vault"
sites = {
  east = { region = "us-east", weight = 100 }
  west = { region = "us-west", weight = 100 }
}
replication_mode = "sync"
approval         = "manual"
