# Traffic that follows the active member: a DNS record updated over RFC 2136 and an HAProxy
# TCP backend switched through its runtime API. Both are off until their variables are set.

variable "dns_server" {
  type        = string
  default     = ""
  description = "host:port of a DNS server with zone dr.test accepting updates signed with standby-key"
}

variable "dns_secret" {
  type      = string
  default   = ""
  sensitive = true
}

variable "haproxy_socket" {
  type        = string
  default     = ""
  description = "HAProxy admin socket of a frontend whose backend db has servers east and west"
}

resource "dns_record" "db" {
  count   = var.dns_server == "" ? 0 : 1
  server  = var.dns_server
  zone    = "dr.test"
  name    = "db.dr.test"
  type    = "A"
  ttl     = 30
  records = [failover.orders.active_member.address]

  key {
    name      = "standby-key"
    algorithm = "hmac-sha256"
    secret    = var.dns_secret
  }
}

resource "haproxy_backend" "db" {
  count             = var.haproxy_socket == "" ? 0 : 1
  socket            = var.haproxy_socket
  backend           = "db"
  servers           = { for site, m in failover.orders.members : site => "${m.address}:${m.port}" }
  active            = [failover.orders.active]
  shutdown_sessions = true
}
