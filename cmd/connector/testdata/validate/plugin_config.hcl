# Plugin blocks that decode against the plugin's schema only partly, or that the
# plugin itself refuses.
identity {
  ssid     = "O0013000000ACME"
  password = "ACME"
}

plugin "typo" {
  builtin = "localfs"
  config {
    pth = "./inbox"
  }
}

plugin "wrong-type" {
  builtin = "localfs"
  config {
    path        = "./inbox"
    create_dirs = "sometimes"
  }
}

plugin "refused" {
  builtin = "localfs"
  config {
    path        = "./inbox"
    create_dirs = true
    permissions = "0999"
  }
}

plugin "unknown" {
  builtin = "nosuchplugin"
}
