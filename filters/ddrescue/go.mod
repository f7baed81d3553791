module github.com/gonbd/gonbd/filters/ddrescue

go 1.24.0
