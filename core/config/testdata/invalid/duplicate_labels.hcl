identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

partner "acme" {
  ssid     = "O0013000000PARTNER"
  password = "PW"
}

partner "acme" {
  ssid     = "O0013000000OTHER"
  password = "PW"
}

partner "globex" {
  ssid     = "O0013000000PARTNER"
  password = "PW"
}

identity {
  ssid     = "O0013000000ACME2"
  password = "ACME"
}
