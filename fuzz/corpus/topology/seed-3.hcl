active_site      = "east"
base_port        = 27432
replication_mode = "sync"
approval         = "manual"
