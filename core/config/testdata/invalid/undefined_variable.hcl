variable "partner_password" {
  default = "PW"
}

identity {
  ssid     = "O0013000000ACME"
  password = var.our_password
}

partner "acme" {
  ssid     = "O0013000000PARTNER"
  password = var.partner_pasword
}
