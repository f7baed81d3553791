module github.com/gonbd/gonbd/filters/xz

go 1.24.0

require github.com/ulikunitz/xz v0.5.17
