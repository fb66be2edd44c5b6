# The failover model: two sites, an embedded database at each, and traffic that follows the
# active member. Change active_site (or run `standby switchover orders --to west`) and the plan
# shows the ordered, gated switch.

site "east" {
  region = "us-east"
}

site "west" {
  region = "us-west"
}

resource "sqlite_database" "east" {
  path   = "${local.out_dir}/east/orders.db"
  schema = "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)"
  site   = site.east
}

resource "sqlite_database" "west" {
  path   = "${local.out_dir}/west/orders.db"
  schema = "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)"
  site   = site.west
}

failover "orders" {
  active = var.active_site
  members = {
    east = sqlite_database.east
    west = sqlite_database.west
  }
  replication {
    mode    = var.replication_mode
    max_lag = "1MiB"
  }
  rpo      = "0s"
  rto      = "30s"
  approval = var.approval

  health_check {
    interval = "1s"
    timeout  = "500ms"
    failures = 3
  }

  verify {
    checksum = ["main.orders"]
  }

  hook "before_fence" {
    command = ["sh", "-c", "echo \"draining $STANDBY_GROUP on $STANDBY_FROM\" >> ${local.out_dir}/hooks.log"]
  }

  hook "after_switch" {
    command = ["sh", "-c", "echo \"switched $STANDBY_GROUP to $STANDBY_TO at epoch $STANDBY_EPOCH\" >> ${local.out_dir}/hooks.log"]
  }
}

resource "local_file" "connection" {
  filename        = "${local.out_dir}/connection.txt"
  content         = "sqlite://${failover.orders.active_member.address}\n"
  file_permission = "0644"
}

parity {
  must_match = ["local_file.connection.file_permission"]
  # prod replicates synchronously and switches only with a manual approval, on purpose (the
  # built-in check requires it): `standby envs diff` lists these, and does not fail on them.
  may_differ = ["failover.orders.replication.mode", "failover.orders.approval"]
}
