module example.com/tallyfixture

go 1.24
