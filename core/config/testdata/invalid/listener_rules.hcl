identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

listener "a" {
  address = "127.0.0.1:6619"
  tls {
    cert_file           = "server.pem"
    key_file            = "server.key"
    require_client_cert = true
    min_version         = "1.0"
  }
}

listener "b" {
  address = "127.0.0.1:6619"
}

listener "c d" {
  address = "localhost:http"
}
