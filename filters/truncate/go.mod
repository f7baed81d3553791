module github.com/gonbd/gonbd/filters/truncate

go 1.24.0
