hi ${name}: %{ for p in ports }${p},%{ endfor }
