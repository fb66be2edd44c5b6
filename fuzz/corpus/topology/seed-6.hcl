variable "name" {
  type = string
}

variable "region" {
  type = string
}

variable "weight" {
  type    = number
  default = 100
}

variable "out_dir" {
  type = string
}

resource "local_file" "conf" {
  filename        = "${var.out_dir}/${var.name}/site.conf"
  file_permission = "0644"
  content         = <<-EOT
    name   = ${var.name}
    region = ${var.region}
    weight = ${var.weight}
  EOT
}

output "endpoint" {
  value = "${var.name}.${var.region}.internal:5432"
}

output "config_path" {
  value = local_file.conf.filename
}
