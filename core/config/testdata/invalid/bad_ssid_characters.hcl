identity {
  ssid     = "O0013000000acme"
  password = "ACME"
}

partner "acme" {
  ssid     = "O0013000000_PARTNER"
  sfid     = "O0013000000PARTNER-WITH-A-VERY-LONG-NAME"
  password = "PW"
}
