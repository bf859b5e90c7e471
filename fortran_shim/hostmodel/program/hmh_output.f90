!> The host program's files: history (interval means of fluxes, soil moisture and what
!! landemu provided, on the domain's (ni, nj) grid) and the physics restart.
!!
!! Fields are gathered on rank 0 in global-id order (root-only gathers of small host fields
!! are allowed for output), so files do not depend on the number of ranks. Files are written
!! under a temporary name and renamed into place when complete: a failed run leaves no
!! half-written file.
module hmh_output
  use, intrinsic :: iso_fortran_env, only: int64, real64
  use, intrinsic :: iso_c_binding, only: c_int, c_char, c_null_char
  use mpi
  use netcdf
  use hmh_grid, only: domain_t
  use hmh_time, only: date_string
  implicit none
  private

  real(real64), parameter, public :: fill_value = 1.e36_real64

  !> One history field: name, units, description, number of levels.
  type, public :: hist_field
    character(len=32) :: name = ''
    character(len=24) :: units = ''
    character(len=96) :: long_name = ''
    integer :: nlev = 1
  end type hist_field

  !> An open history file (meaningful on rank 0).
  type, public :: history_t
    character(len=:), allocatable :: path       !! final name
    integer :: ncid = -1                        !! netCDF id (rank 0)
    integer :: nrec = 0                         !! values per cell and record
    integer :: nt = 0                           !! records written
    integer :: tid = -1, tbid = -1              !! time and time_bnds ids
    type(hist_field), allocatable :: fields(:)  !! the fields
    integer, allocatable :: varid(:)            !! their variable ids
    integer, allocatable :: offset(:)           !! their first value in a record
  end type history_t

  interface
    function c_rename(old, new) bind(C, name='rename') result(st)
      import :: c_int, c_char
      character(kind=c_char), intent(in) :: old(*), new(*)
      integer(c_int) :: st
    end function c_rename
  end interface

  public :: history_open, history_write, history_close, restart_write, restart_read, &
       gather_on_root

contains

  !> Create the history file on rank 0 and define its fields.
  subroutine history_open(h, path, dom, fields, t_origin, title, comm, message)
    type(history_t), intent(out) :: h                      !! the history
    character(len=*), intent(in) :: path                   !! file to write
    type(domain_t), intent(in) :: dom                      !! the domain
    type(hist_field), intent(in) :: fields(:)              !! fields to write
    integer(int64), intent(in) :: t_origin                 !! time origin (seconds since 0001)
    character(len=*), intent(in) :: title                  !! global title attribute
    integer, intent(in) :: comm                            !! communicator
    character(len=:), allocatable, intent(out) :: message  !! "" or the error (rank 0)
    integer :: rank, ierr, st, f, dni, dnj, dt, dnv, dlev, k
    character(len=16) :: levname
    message = ""
    h%path = path
    h%fields = fields
    allocate (h%varid(size(fields)), h%offset(size(fields)))
    k = 1
    do f = 1, size(fields)
      h%offset(f) = k
      k = k + fields(f)%nlev
    end do
    h%nrec = k - 1
    call MPI_Comm_rank(comm, rank, ierr)
    if (rank /= 0) return
    st = nf90_create(path//'.tmp', ior(nf90_clobber, nf90_netcdf4), h%ncid)
    if (st /= nf90_noerr) then
      message = "cannot create history file '"//path//"': "//trim(nf90_strerror(st))
      return
    end if
    st = nf90_def_dim(h%ncid, 'ni', dom%ni, dni)
    st = nf90_def_dim(h%ncid, 'nj', dom%nj, dnj)
    st = nf90_def_dim(h%ncid, 'nv', 2, dnv)
    st = nf90_def_dim(h%ncid, 'time', nf90_unlimited, dt)
    st = nf90_def_var(h%ncid, 'time', nf90_double, [dt], h%tid)
    st = nf90_put_att(h%ncid, h%tid, 'units', 'seconds since '//date_string(t_origin))
    st = nf90_put_att(h%ncid, h%tid, 'calendar', 'noleap')
    st = nf90_put_att(h%ncid, h%tid, 'bounds', 'time_bnds')
    st = nf90_put_att(h%ncid, h%tid, 'comment', 'end of each averaging interval')
    st = nf90_def_var(h%ncid, 'time_bnds', nf90_double, [dnv, dt], h%tbid)
    do f = 1, size(fields)
      if (fields(f)%nlev == 1) then
        st = nf90_def_var(h%ncid, trim(fields(f)%name), nf90_double, [dni, dnj, dt], h%varid(f))
      else
        select case (fields(f)%nlev)
        case (10)
          levname = 'levsoi'
        case (17)
          levname = 'natpft'
        case default
          write (levname, '("lev", i0)') fields(f)%nlev
        end select
        if (nf90_inq_dimid(h%ncid, trim(levname), dlev) /= nf90_noerr) &
             st = nf90_def_dim(h%ncid, trim(levname), fields(f)%nlev, dlev)
        st = nf90_def_var(h%ncid, trim(fields(f)%name), nf90_double, [dni, dnj, dlev, dt], &
             h%varid(f))
      end if
      if (st /= nf90_noerr) then
        message = "history file '"//path//"': cannot define "//trim(fields(f)%name)//": "// &
             trim(nf90_strerror(st))
        return
      end if
      st = nf90_put_att(h%ncid, h%varid(f), 'units', trim(fields(f)%units))
      st = nf90_put_att(h%ncid, h%varid(f), 'long_name', trim(fields(f)%long_name))
      st = nf90_put_att(h%ncid, h%varid(f), '_FillValue', fill_value)
      st = nf90_put_att(h%ncid, h%varid(f), 'cell_methods', 'time: mean')
    end do
    st = nf90_put_att(h%ncid, nf90_global, 'title', title)
    st = nf90_put_att(h%ncid, nf90_global, 'Conventions', 'CF-1.8')
    st = nf90_put_att(h%ncid, nf90_global, 'domain_file', dom%path)
    st = nf90_enddef(h%ncid)
  end subroutine history_open

  !> Gather one record per owned cell, rec(nrec, n_local), into g(n, nrec) on rank 0
  !! (fill_value where no rank owns a cell).
  subroutine gather_on_root(dom, ids, rec, g, comm)
    type(domain_t), intent(in) :: dom                 !! the domain
    integer(int64), intent(in) :: ids(:)              !! owned 1-based ids
    real(real64), intent(in) :: rec(:, :)             !! (nrec, n_local)
    real(real64), allocatable, intent(out) :: g(:, :) !! (n, nrec) on rank 0, (0, 0) elsewhere
    integer, intent(in) :: comm                       !! communicator
    integer :: rank, nranks, ierr, nrec, r, c, n_all
    integer, allocatable :: counts(:), displs(:), rcounts(:), rdispls(:)
    integer(int64), allocatable :: all_ids(:)
    real(real64), allocatable :: all_rec(:, :)
    call MPI_Comm_rank(comm, rank, ierr)
    call MPI_Comm_size(comm, nranks, ierr)
    nrec = size(rec, 1)
    allocate (counts(nranks), displs(nranks), rcounts(nranks), rdispls(nranks))
    call MPI_Gather(size(ids), 1, MPI_INTEGER, counts, 1, MPI_INTEGER, 0, comm, ierr)
    if (rank == 0) then
      displs(1) = 0
      do r = 2, nranks
        displs(r) = displs(r - 1) + counts(r - 1)
      end do
      n_all = sum(counts)
      rcounts = counts * nrec
      rdispls = displs * nrec
    else
      n_all = 0
      rcounts = 0
      rdispls = 0
    end if
    allocate (all_ids(max(n_all, 1)), all_rec(nrec, max(n_all, 1)))
    call MPI_Gatherv(ids, size(ids), MPI_INTEGER8, all_ids, counts, displs, MPI_INTEGER8, 0, &
         comm, ierr)
    call MPI_Gatherv(rec, size(rec), MPI_DOUBLE_PRECISION, all_rec, rcounts, rdispls, &
         MPI_DOUBLE_PRECISION, 0, comm, ierr)
    if (rank == 0) then
      allocate (g(dom%n, nrec))
      g = fill_value
      do c = 1, n_all
        g(all_ids(c), :) = all_rec(:, c)
      end do
    else
      allocate (g(0, 0))
    end if
  end subroutine gather_on_root

  !> Append one record (interval [t0, t1], seconds since the origin) to the history.
  subroutine history_write(h, dom, ids, rec, t0, t1, comm, g, message)
    type(history_t), intent(inout) :: h                    !! the history
    type(domain_t), intent(in) :: dom                      !! the domain
    integer(int64), intent(in) :: ids(:)                   !! owned ids
    real(real64), intent(in) :: rec(:, :)                  !! (nrec, n_local) interval means
    real(real64), intent(in) :: t0, t1                     !! interval bounds (s since origin)
    integer, intent(in) :: comm                            !! communicator
    real(real64), allocatable, intent(out) :: g(:, :)      !! the gathered (n, nrec) on rank 0
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: rank, ierr, f, st, o, nl
    message = ""
    call gather_on_root(dom, ids, rec, g, comm)
    call MPI_Comm_rank(comm, rank, ierr)
    if (rank /= 0) return
    h%nt = h%nt + 1
    st = nf90_put_var(h%ncid, h%tid, [t1], start=[h%nt], count=[1])
    st = nf90_put_var(h%ncid, h%tbid, reshape([t0, t1], [2, 1]), start=[1, h%nt], count=[2, 1])
    do f = 1, size(h%fields)
      o = h%offset(f)
      nl = h%fields(f)%nlev
      if (nl == 1) then
        st = nf90_put_var(h%ncid, h%varid(f), reshape(g(:, o), [dom%ni, dom%nj, 1]), &
             start=[1, 1, h%nt], count=[dom%ni, dom%nj, 1])
      else
        st = nf90_put_var(h%ncid, h%varid(f), reshape(g(:, o:o + nl - 1), [dom%ni, dom%nj, nl, 1]), &
             start=[1, 1, 1, h%nt], count=[dom%ni, dom%nj, nl, 1])
      end if
      if (st /= nf90_noerr) then
        message = "history file '"//h%path//"': writing "//trim(h%fields(f)%name)// &
             " failed: "//trim(nf90_strerror(st))
        return
      end if
    end do
  end subroutine history_write

  !> Close the history on rank 0 and move it into place.
  subroutine history_close(h, comm, message)
    type(history_t), intent(inout) :: h                    !! the history
    integer, intent(in) :: comm                            !! communicator
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: rank, ierr, st
    message = ""
    call MPI_Comm_rank(comm, rank, ierr)
    if (rank /= 0 .or. h%ncid < 0) return
    st = nf90_close(h%ncid)
    h%ncid = -1
    if (c_rename(h%path//'.tmp'//c_null_char, h%path//c_null_char) /= 0) &
         message = "cannot move '"//h%path//".tmp' to '"//h%path//"'"
  end subroutine history_close

  !> Write the physics state of every land cell (rank 0, land-cell order) and the time.
  subroutine restart_write(path, dom, ids, state, ymd, tod, comm, message)
    character(len=*), intent(in) :: path                   !! restart file
    type(domain_t), intent(in) :: dom                      !! the domain
    integer(int64), intent(in) :: ids(:)                   !! owned ids
    real(real64), intent(in) :: state(:, :)                !! (nstate, n_local)
    integer, intent(in) :: ymd, tod                        !! time of the state
    integer, intent(in) :: comm                            !! communicator
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    real(real64), allocatable :: g(:, :), land_state(:, :)
    integer(int64), allocatable :: gid(:)
    integer :: rank, ierr, st, ncid, dc, ds, vg, vs, k
    message = ""
    call gather_on_root(dom, ids, state, g, comm)
    call MPI_Comm_rank(comm, rank, ierr)
    if (rank /= 0) return
    allocate (land_state(size(state, 1), dom%n_land), gid(dom%n_land))
    do k = 1, dom%n
      if (dom%land_index(k) > 0) then
        gid(dom%land_index(k)) = k
        land_state(:, dom%land_index(k)) = g(k, :)
      end if
    end do
    st = nf90_create(path//'.tmp', ior(nf90_clobber, nf90_netcdf4), ncid)
    if (st /= nf90_noerr) then
      message = "cannot create restart file '"//path//"': "//trim(nf90_strerror(st))
      return
    end if
    st = nf90_def_dim(ncid, 'cell', dom%n_land, dc)
    st = nf90_def_dim(ncid, 'nstate', size(state, 1), ds)
    st = nf90_def_var(ncid, 'gid', nf90_int64, [dc], vg)
    st = nf90_put_att(ncid, vg, 'long_name', '1-based global id of the land cell')
    st = nf90_def_var(ncid, 'state', nf90_double, [ds, dc], vs)
    st = nf90_put_att(ncid, vs, 'long_name', 'host physics state record (hm_column.f90 layout)')
    st = nf90_put_att(ncid, nf90_global, 'ymd', ymd)
    st = nf90_put_att(ncid, nf90_global, 'tod', tod)
    st = nf90_put_att(ncid, nf90_global, 'domain_file', dom%path)
    st = nf90_enddef(ncid)
    st = nf90_put_var(ncid, vg, gid)
    if (st == nf90_noerr) st = nf90_put_var(ncid, vs, land_state)
    if (st /= nf90_noerr) message = "restart file '"//path//"': "//trim(nf90_strerror(st))
    st = nf90_close(ncid)
    if (message == "") then
      if (c_rename(path//'.tmp'//c_null_char, path//c_null_char) /= 0) &
           message = "cannot move '"//path//".tmp' to '"//path//"'"
    end if
  end subroutine restart_write

  !> Read this rank's columns from a restart file and the time it was written at.
  subroutine restart_read(path, dom, ids, state, ymd, tod, message)
    character(len=*), intent(in) :: path                   !! restart file
    type(domain_t), intent(in) :: dom                      !! the domain
    integer(int64), intent(in) :: ids(:)                   !! owned ids
    real(real64), intent(inout) :: state(:, :)             !! (nstate, n_local)
    integer, intent(out) :: ymd, tod                       !! time of the state
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: ncid, st, dimid, ncell, nst, vg, vs, c, l0, l1, l
    integer(int64), allocatable :: gid(:)
    real(real64), allocatable :: buf(:, :)
    message = ""
    st = nf90_open(path, nf90_nowrite, ncid)
    if (st /= nf90_noerr) then
      message = "cannot open restart file '"//path//"': "//trim(nf90_strerror(st))
      return
    end if
    ncell = -1
    nst = -1
    if (nf90_inq_dimid(ncid, 'cell', dimid) == nf90_noerr) &
         st = nf90_inquire_dimension(ncid, dimid, len=ncell)
    if (nf90_inq_dimid(ncid, 'nstate', dimid) == nf90_noerr) &
         st = nf90_inquire_dimension(ncid, dimid, len=nst)
    if (ncell /= dom%n_land .or. nst /= size(state, 1)) then
      write (message, '(a, i0, a, i0, a, i0, a, i0, a)') "restart file '"//path//"' has ", &
           ncell, " cells x ", nst, " state values; this run has ", dom%n_land, &
           " land cells x ", size(state, 1), " (a different domain or model version?)"
      st = nf90_close(ncid)
      return
    end if
    st = nf90_get_att(ncid, nf90_global, 'ymd', ymd)
    if (st == nf90_noerr) st = nf90_get_att(ncid, nf90_global, 'tod', tod)
    if (st == nf90_noerr) st = nf90_inq_varid(ncid, 'gid', vg)
    if (st == nf90_noerr) st = nf90_inq_varid(ncid, 'state', vs)
    if (st /= nf90_noerr) then
      message = "restart file '"//path//"' lacks ymd/tod/gid/state: "//trim(nf90_strerror(st))
      st = nf90_close(ncid)
      return
    end if
    if (size(ids) > 0) then
      l0 = dom%land_index(minval(ids))
      l1 = dom%land_index(maxval(ids))
      allocate (gid(l1 - l0 + 1), buf(size(state, 1), l1 - l0 + 1))
      st = nf90_get_var(ncid, vg, gid, start=[l0], count=[l1 - l0 + 1])
      if (st == nf90_noerr) st = nf90_get_var(ncid, vs, buf, start=[1, l0], &
           count=[size(state, 1), l1 - l0 + 1])
      if (st /= nf90_noerr) then
        message = "restart file '"//path//"': "//trim(nf90_strerror(st))
      else
        do c = 1, size(ids)
          l = dom%land_index(ids(c)) - l0 + 1
          if (gid(l) /= ids(c)) then
            write (message, '(a, i0, a, i0)') "restart file '"//path//"': land cell ", &
                 l + l0 - 1, " has id ", gid(l)
            exit
          end if
          state(:, c) = buf(:, l)
        end do
      end if
    end if
    st = nf90_close(ncid)
  end subroutine restart_read

end module hmh_output
