variable "sites" {
  type        = map(object({ region = string, weight = number }))
  description = "Sites of this environment, by name"
}

variable "active_site" {
  type        = string
  description = "The site that serves traffic"

  validation {
    condition     = contains(["east", "west"], var.active_site)
    error_message = "active_site must be east or west."
  }
}

variable "admin_token" {
  type      = string
  sensitive = true
  default   = "change-me"
}

variable "replication_mode" {
  type    = string
  default = "async"
}

variable "approval" {
  type    = string
  default = "auto"
}
