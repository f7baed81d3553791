module github.com/gonbd/gonbd/filters/tls-fallback

go 1.24.0
