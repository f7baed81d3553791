module github.com/gonbd/gonbd/filters/gzip

go 1.24.0

require github.com/klauspost/compress v1.19.2
