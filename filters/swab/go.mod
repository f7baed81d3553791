module github.com/gonbd/gonbd/filters/swab

go 1.24.0
