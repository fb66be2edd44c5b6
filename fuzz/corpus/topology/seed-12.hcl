# A small topology with no servers: each site gets a directory of generated
# configuration, and a routing file points at the active site.

locals {
  out_dir = "${path.root}/out/${env.name}"
}

module "site" {
  source   = "./modules/site"
  for_each = var.sites

  name    = each.key
  region  = each.value.region
  weight  = each.value.weight
  out_dir = local.out_dir
}

# A new id each time the active site really changes (after promotion, not at a gate).
resource "standby_data" "epoch" {
  input            = failover.orders.active
  triggers_replace = failover.orders.active
}

# Routing follows the failover group, not the variable: it moves only when the switch has
# promoted the new primary, and stays put when a switch stops at its gate or fails.
resource "local_file" "routing" {
  filename = "${local.out_dir}/routing.json"
  content = jsonencode({
    active   = failover.orders.active
    endpoint = module.site[failover.orders.active].endpoint
    standbys = failover.orders.standbys
    epoch    = standby_data.epoch.id
  })
  file_permission = "0644"
}

resource "local_sensitive_file" "token" {
  filename = "${local.out_dir}/admin.token"
  content  = var.admin_token
}

output "active_endpoint" {
  value       = module.site[failover.orders.active].endpoint
  description = "Where traffic goes"
}

output "routing_sha256" {
  value = local_file.routing.content_sha256
}
