# Two sites, each with a PostgreSQL server on loopback: a primary and a standby streaming from
# it. The application's connection string follows the active member.

variable "active_site" {
  type = string
  validation {
    condition     = contains(["east", "west"], var.active_site)
    error_message = "active_site must be east or west."
  }
}

variable "replication_mode" {
  type    = string
  default = "async"
}

variable "approval" {
  type    = string
  default = "auto"
}

variable "base_port" {
  type        = number
  description = "east listens on base_port, west on base_port + 1"
}

variable "data_root" {
  type    = string
  default = "data"
}

variable "rto" {
  type        = string
  default     = "30s"
  description = "the recovery time objective drills are judged against"
}

variable "health_timeout" {
  type        = string
  default     = "500ms"
  description = "how long one health check may take"
}

variable "health_failures" {
  type        = number
  default     = 3
  description = "consecutive failed checks before the monitor fails over"
}

variable "health_type" {
  type        = string
  default     = "replication"
  description = "how the monitor checks members: replication, sql, tcp or http"
}

variable "health_urls" {
  type        = map(string)
  default     = {}
  description = "each site's health URL, for health_type = \"http\" (2xx means healthy)"
}

variable "run_as" {
  type    = string
  default = "postgres"
}

site "east" {
  region = "us-east"
}

site "west" {
  region = "us-west"
}

locals {
  members = {
    east = { listen = "127.0.0.2", port = var.base_port }
    west = { listen = "127.0.0.3", port = var.base_port + 1 }
  }
}

resource "postgres_server" "east" {
  listen   = local.members.east.listen
  port     = local.members.east.port
  data_dir = "${var.data_root}/${env.name}/east"
  run_as   = var.run_as
  site     = site.east
  settings = {
    shared_buffers = "32MB"
  }
}

resource "postgres_server" "west" {
  listen   = local.members.west.listen
  port     = local.members.west.port
  data_dir = "${var.data_root}/${env.name}/west"
  run_as   = var.run_as
  site     = site.west
  settings = {
    shared_buffers = "32MB"
  }
}

failover "orders" {
  active = var.active_site
  members = {
    east = postgres_server.east
    west = postgres_server.west
  }
  replication {
    mode    = var.replication_mode
    max_lag = "16MiB"
  }
  rpo      = var.replication_mode == "sync" ? "0s" : "5s"
  rto      = var.rto
  approval = var.approval

  health_check {
    interval = "1s"
    timeout  = var.health_timeout
    failures = var.health_failures
    type     = var.health_type
    url      = var.health_urls
  }

  verify {
    checksum = ["public.orders"]
  }
}

# What the application needs, created on whichever member is primary (and replicated).
resource "postgres_role" "app" {
  host          = failover.orders.active_member.address
  port          = failover.orders.active_member.port
  name          = "app"
  role_password = "app-secret"
}

resource "postgres_database" "app" {
  host  = failover.orders.active_member.address
  port  = failover.orders.active_member.port
  name  = "app"
  owner = postgres_role.app.name
}

resource "local_file" "connection" {
  filename        = "${var.data_root}/${env.name}/connection.txt"
  content         = "postgresql://postgres@${failover.orders.active_member.address}:${failover.orders.active_member.port}/postgres\n"
  file_permission = "0644"
}

output "connection" {
  value = trimspace(local_file.connection.content)
}

parity {
  must_match = ["postgres_server.east.settings"]
  # prod replicates synchronously and switches only with a manual approval, on purpose.
  may_differ = ["failover.orders.replication.mode", "failover.orders.approval", "failover.orders.rpo"]
}
