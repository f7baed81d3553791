module github.com/gonbd/gonbd/filters/rotational

go 1.24.0
